"""The asyncio flavour of the API: ``AsyncRegistry`` on the same protocol core (httpx).

Install it with ``pip install 'registry-client[async]'``.
"""
