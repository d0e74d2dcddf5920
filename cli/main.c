/* main.c - portco entry point. */
#include <stdio.h>

int main(void)
{
    fprintf(stderr, "portco: not built yet\n");
    return 1;
}
