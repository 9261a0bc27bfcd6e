//! Every worked example of `vectors/signing.json` (copied from the shared specification) must
//! produce its canonical string and signature, and verify.

use octopus_domain::signing::{canonical, SigningKey};
use octopus_domain::RequestFields;

#[test]
fn every_signing_vector_verifies() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../vectors/signing.json");
    let doc: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let vectors = doc["vectors"].as_array().unwrap();
    assert!(vectors.len() >= 8);
    for v in vectors {
        let name = v["name"].as_str().unwrap();
        let fields = RequestFields::from_json(v["body"].as_str().unwrap().as_bytes()).unwrap();
        assert_eq!(
            canonical(&fields, true),
            v["canonical"].as_str().unwrap(),
            "{name}"
        );
        let key = SigningKey::new(v["secret"].as_str().unwrap().as_bytes());
        let signature = v["signature"].as_str().unwrap();
        assert_eq!(key.sign(&fields), signature, "{name}");
        assert!(key.verify(&fields, signature), "{name}");
        assert!(key.verify(&fields, &signature.to_uppercase()), "{name}");
        assert!(
            !SigningKey::new(b"wrong").verify(&fields, signature),
            "{name}"
        );
    }
}
