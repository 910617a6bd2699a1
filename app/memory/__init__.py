"""Conversation memory: sessions and their messages."""
