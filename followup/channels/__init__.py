"""Delivery channels: one port (:class:`followup.channels.base.Channel`), one module per provider."""
