/* placeholder.c - keeps the proto library non-empty until its code lands. */
int pc_proto_placeholder_(void);
int pc_proto_placeholder_(void)
{
    return 0;
}
