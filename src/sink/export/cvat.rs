//! CVAT for images 1.1 XML (`annotations.xml`) and the frames in
//! `images/`, for retraining on reviewed events.

use std::path::Path;

use super::images::ImageSet;
use super::{ExportError, ReviewedEvent};
use crate::evidence::redact::Redaction;
use crate::sink::{Sink, SinkError};

pub const FILE: &str = "annotations.xml";

pub struct CvatSink {
    images: ImageSet,
}

impl CvatSink {
    /// Writes into the folder `out`; see [`ImageSet::create`].
    pub fn new(out: &Path, redaction: Option<Redaction>) -> Result<CvatSink, ExportError> {
        Ok(CvatSink {
            images: ImageSet::create(out, redaction)?,
        })
    }
}

fn xml_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// The CVAT document of `set`: one `<image>` per event, one `<box>` per
/// box, each with its score as an attribute.
pub fn document(set: &ImageSet) -> String {
    let mut x = String::from("<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<annotations>\n  <version>1.1</version>\n  <meta><task><labels>\n");
    for l in &set.labels {
        x.push_str(&format!("    <label><name>{}</name><attributes><attribute><name>score</name><input_type>number</input_type></attribute></attributes></label>\n", xml_escape(l)));
    }
    x.push_str("  </labels></task></meta>\n");
    for (i, img) in set.images.iter().enumerate() {
        let (w, h) = (img.boxes.width, img.boxes.height);
        x.push_str(&format!(
            "  <image id=\"{i}\" name=\"{}\" width=\"{w}\" height=\"{h}\">\n",
            xml_escape(&img.name)
        ));
        for b in &img.boxes.boxes {
            x.push_str(&format!(
                "    <box label=\"{}\" source=\"auto\" occluded=\"0\" xtl=\"{:.2}\" ytl=\"{:.2}\" xbr=\"{:.2}\" ybr=\"{:.2}\" z_order=\"0\"><attribute name=\"score\">{:.4}</attribute></box>\n",
                xml_escape(&b.class), b.x1, b.y1, b.x2, b.y2, b.score
            ));
        }
        x.push_str("  </image>\n");
    }
    x.push_str("</annotations>\n");
    x
}

impl Sink<ReviewedEvent> for CvatSink {
    fn accept(&mut self, e: &ReviewedEvent) -> Result<(), SinkError> {
        Ok(self.images.add(e)?)
    }

    fn finish(&mut self) -> Result<(), SinkError> {
        let doc = document(&self.images);
        Ok(self.images.finish(FILE, doc.as_bytes())?)
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn names_are_escaped() {
        assert_eq!(
            super::xml_escape("a<b & \"c\">"),
            "a&lt;b &amp; &quot;c&quot;&gt;"
        );
    }
}
