//! Another `reqwest` client in the program keeps working next to the layer: this crate's
//! `reqwest` features (rustls with no provider of its own) apply to every `reqwest` 0.13 in the
//! build, so the layer gives the process a default rustls provider when it has none.
//!
//! Its own test binary: the default provider is process-wide, and the test must see a process
//! that has none yet.
#![cfg(feature = "tls")]

use tracing_openinference::{LlmLayer, LlmLayerBuilder};
use tracing_subscriber::Registry;

#[test]
fn a_reqwest_client_built_after_the_layer_does_not_panic() {
    assert!(
        rustls::crypto::CryptoProvider::get_default().is_none(),
        "precondition: no provider installed yet in this process"
    );
    // The console destination: no HTTP client of the crate's own is built.
    let layer: LlmLayer<Registry> = LlmLayerBuilder::from_env_with(|_| None)
        .with_console_exporter(false)
        .try_build()
        .expect("valid settings");
    let client = std::panic::catch_unwind(reqwest::Client::new);
    assert!(
        client.is_ok(),
        "reqwest::Client::new() panicked next to the layer"
    );
    assert!(rustls::crypto::CryptoProvider::get_default().is_some());
    drop(layer);
}
