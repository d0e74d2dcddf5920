/* placeholder.c - keeps the probe library non-empty until its code lands. */
int pc_probe_placeholder_(void);
int pc_probe_placeholder_(void)
{
    return 0;
}
