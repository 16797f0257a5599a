"""Every word and document a person reads: chat texts, cards, calendar texts and report files.

Rendering takes values from the services and returns plain data (:class:`bot.render.cards.Reply`,
document files); only ``handlers`` turns them into Bot API calls.
"""
