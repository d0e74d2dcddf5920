/* main.c - portco-coordinator entry point. */
#include <stdio.h>

int main(void)
{
    fprintf(stderr, "portco-coordinator: not built yet\n");
    return 1;
}
