//! .kamal/secrets parsing with Kamal 2's rules, and the Secret newtype whose Debug/Display print ****.
