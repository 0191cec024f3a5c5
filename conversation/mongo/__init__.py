"""The MongoDB backend: one module per store area over one client."""

from conversation.mongo.store import MongoStore as MongoStore
