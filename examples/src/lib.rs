//! Shared sandbox helpers for the examples.
