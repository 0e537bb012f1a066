"""Customer records (the "host data" of the screen pop): customers with their phone numbers, the
interaction history, tickets, CSV import, and the HTTP routes over them."""
