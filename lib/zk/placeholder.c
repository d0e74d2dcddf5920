/* placeholder.c - keeps the zk library non-empty until its code lands. */
int pc_zk_placeholder_(void);
int pc_zk_placeholder_(void)
{
    return 0;
}
