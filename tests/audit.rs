//! Behaviour of `exoauth audit` on the fixtures.
