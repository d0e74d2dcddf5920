/* version.c - the version of the libportco loaded at run time. */
#include "portco.h"

unsigned portco_version(void)
{
    return PORTCO_VERSION_HEX;
}

const char *portco_version_string(void)
{
    return PORTCO_VERSION_STRING;
}
