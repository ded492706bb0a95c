"""Pure domain: jobs, accounts, events and the rules between them. Imports nothing of ours."""
