"""Accounts: users and guests, sign-ins, profiles; an account's export and deletion."""
