/* placeholder.c - keeps the config library non-empty until its code lands. */
int pc_config_placeholder_(void);
int pc_config_placeholder_(void)
{
    return 0;
}
