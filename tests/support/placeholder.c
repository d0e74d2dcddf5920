/* placeholder.c - keeps the test support library non-empty. */
int pt_placeholder_(void);
int pt_placeholder_(void)
{
    return 0;
}
