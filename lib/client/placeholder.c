/* placeholder.c - keeps the client library non-empty until its code lands. */
int pc_client_placeholder_(void);
int pc_client_placeholder_(void)
{
    return 0;
}
