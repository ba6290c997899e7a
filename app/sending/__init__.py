"""The SMS engine (SPEC §6–7): rules as plain functions, the providers' adapters, and the jobs
that send planned messages inside their windows, never to a blacklisted number, never twice.
The pages that use it are in app.messages and app.campaigns.
"""
