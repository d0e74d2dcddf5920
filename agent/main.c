/* main.c - portco-agent entry point. */
#include <stdio.h>

int main(void)
{
    fprintf(stderr, "portco-agent: not built yet\n");
    return 1;
}
