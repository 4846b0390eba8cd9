//! Recording the calls of LLM client crates on a span, each behind its own cargo feature.
//!
//! - [`async_openai`] (feature `async-openai`): chat requests, responses, streams and
//!   embeddings of the [`async-openai`](https://docs.rs/async-openai) client.

pub mod async_openai;
