//! The strings of a span outside its attributes (its name, status message, event names and
//! links), and the resource: the same scans and mask as attribute values.

use super::clean::FoundClean;
use super::masks::JsonScan;
use super::Privacy;
use opentelemetry::trace::Status;
use opentelemetry::KeyValue;
use opentelemetry_sdk::trace::SpanData;
use opentelemetry_sdk::Resource;

impl Privacy {
    /// Scans and masks the span's name, its error status message (`#[instrument(err)]`'s error
    /// text), the names of its events (an event's formatted message) and the attributes of its
    /// links. Attributes and event attributes are [`Privacy::apply`]'s.
    pub(crate) fn clean_span_strings(&self, span: &mut SpanData) {
        if let Some(new) = self.clean_str(&span.name, JsonScan::None) {
            span.name = new.into();
        }
        if let Status::Error { description } = &mut span.status {
            if let Some(new) = self.clean_str(description, JsonScan::None) {
                *description = new.into();
            }
        }
        for event in span.events.events.iter_mut() {
            if let Some(new) = self.clean_str(&event.name, JsonScan::None) {
                event.name = new.into();
            }
        }
        for link in span.links.links.iter_mut() {
            let mut clean = FoundClean::default();
            link.attributes.retain_mut(|kv| {
                self.process_kv(kv, self.plan(kv.key.as_str()), false, &mut clean)
            });
        }
    }

    /// The resource with its attribute values scanned and masked (done once, when the layer is
    /// built); the resource itself when nothing changed.
    pub(crate) fn clean_resource(&self, resource: Resource) -> Resource {
        let mut changed = false;
        let mut clean = FoundClean::default();
        let attributes: Vec<KeyValue> = resource
            .iter()
            .filter_map(|(key, value)| {
                let mut kv = KeyValue::new(key.clone(), value.clone());
                let keep = self.process_kv(&mut kv, self.plan(key.as_str()), false, &mut clean);
                changed |= !keep || kv.value != *value;
                keep.then_some(kv)
            })
            .collect();
        if !changed {
            return resource;
        }
        match resource.schema_url() {
            Some(url) => Resource::builder_empty()
                .with_schema_url(attributes, url.to_owned())
                .build(),
            None => Resource::builder_empty()
                .with_attributes(attributes)
                .build(),
        }
    }
}
