"""Everything that owns a database session or a transaction: cases, chats, dialogs, the
calendar, the outbox and deliveries, status and report queries.

Services take plain values (and the clock) and know nothing of Telegram.
"""
