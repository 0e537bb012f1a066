"""The IVR in the running server: the services flows use (customers, tickets, ACD, HTTP, surveys), the
survey table, the command line."""
