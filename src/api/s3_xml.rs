//! The few S3 documents the multipart routes answer in XML (`Accept: application/xml`), shaped
//! as S3's own so that S3 clients read them. Written by hand: four flat documents, every value
//! escaped.

use std::fmt::Write;

use crate::aws::UploadedPart;

const NAMESPACE: &str = "http://s3.amazonaws.com/doc/2006-03-01/";

/// `CreateMultipartUpload`'s answer.
pub fn initiate_result(bucket: &str, key: &str, upload_id: &str) -> String {
    document(
        "InitiateMultipartUploadResult",
        &[("Bucket", bucket), ("Key", key), ("UploadId", upload_id)],
        "",
    )
}

/// `ListParts`' answer: every part, on one page.
pub fn list_parts_result(
    bucket: &str,
    key: &str,
    upload_id: &str,
    parts: &[UploadedPart],
) -> String {
    let mut body = String::new();
    for part in parts {
        let _ = write!(
            body,
            "<Part><PartNumber>{}</PartNumber><ETag>{}</ETag><Size>{}</Size></Part>",
            part.number,
            escape(&part.etag),
            part.size
        );
    }
    document(
        "ListPartsResult",
        &[
            ("Bucket", bucket),
            ("Key", key),
            ("UploadId", upload_id),
            ("IsTruncated", "false"),
        ],
        &body,
    )
}

/// `CompleteMultipartUpload`'s answer.
pub fn complete_result(location: &str, bucket: &str, key: &str, etag: &str) -> String {
    document(
        "CompleteMultipartUploadResult",
        &[
            ("Location", location),
            ("Bucket", bucket),
            ("Key", key),
            ("ETag", etag),
        ],
        "",
    )
}

fn document(root: &str, fields: &[(&str, &str)], rest: &str) -> String {
    let mut xml = format!(r#"<?xml version="1.0" encoding="UTF-8"?><{root} xmlns="{NAMESPACE}">"#);
    for (name, value) in fields {
        let _ = write!(xml, "<{name}>{}</{name}>", escape(value));
    }
    xml.push_str(rest);
    let _ = write!(xml, "</{root}>");
    xml
}

/// Text content with XML's five special characters as entities.
fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_are_escaped() {
        assert_eq!(
            escape(r#"<a href="x">&'</a>"#),
            "&lt;a href=&quot;x&quot;&gt;&amp;&apos;&lt;/a&gt;"
        );
    }

    #[test]
    fn documents_have_s3s_shape() {
        assert_eq!(
            initiate_result("b", "uploads/x.jpg", "id&1"),
            r#"<?xml version="1.0" encoding="UTF-8"?><InitiateMultipartUploadResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Bucket>b</Bucket><Key>uploads/x.jpg</Key><UploadId>id&amp;1</UploadId></InitiateMultipartUploadResult>"#
        );
        let parts = [UploadedPart {
            number: 1,
            size: 5,
            etag: "\"e\"".into(),
        }];
        let listed = list_parts_result("b", "k", "u", &parts);
        assert!(listed.contains(
            "<IsTruncated>false</IsTruncated><Part><PartNumber>1</PartNumber><ETag>&quot;e&quot;</ETag><Size>5</Size></Part></ListPartsResult>"
        ), "{listed}");
        let completed = complete_result("http://s3/b/k", "b", "k", "\"e-2\"");
        assert!(completed.contains("<Location>http://s3/b/k</Location><Bucket>b</Bucket><Key>k</Key><ETag>&quot;e-2&quot;</ETag>"), "{completed}");
    }
}
