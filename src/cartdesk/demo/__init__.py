"""The demo store: two brands, a support team, customers and their conversations.

Everything here is written by us (no text from third-party data sets). ``seed``
decides what to do, ``people`` and ``catalog`` hold the cast, ``scenarios`` the
threads, ``plans`` turns both into dated steps, ``replay`` plays steps through the
services and ``bulk`` writes large volumes with Core inserts.
"""
