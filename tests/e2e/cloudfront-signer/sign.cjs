// Signs `url` with `policy` as AWS's JavaScript CloudFront signer does (SHA-256), and checks a
// signature over `policy` with node's crypto: the reference for tests/e2e/cdn.rs.
//   node sign.cjs sign KEY_FILE KEY_PAIR_ID URL POLICY    -> the signed URL
//   node sign.cjs verify PUBLIC_KEY_FILE POLICY SIGNATURE -> "valid" or "invalid" (SIGNATURE in
//                                                            CloudFront's base64)
const { getSignedUrl } = require("@aws-sdk/cloudfront-signer");
const { readFileSync } = require("node:fs");
const { verify } = require("node:crypto");

const [mode, ...args] = process.argv.slice(2);
if (mode === "sign") {
  const [keyFile, keyPairId, url, policy] = args;
  const privateKey = readFileSync(keyFile, "utf8");
  console.log(getSignedUrl({ url, keyPairId, privateKey, policy, algorithm: "SHA256" }));
} else if (mode === "verify") {
  const [publicKeyFile, policy, signature] = args;
  const standard = signature.replace(/-/g, "+").replace(/_/g, "=").replace(/~/g, "/");
  const ok = verify(
    "sha256",
    Buffer.from(policy),
    readFileSync(publicKeyFile, "utf8"),
    Buffer.from(standard, "base64"),
  );
  console.log(ok ? "valid" : "invalid");
} else {
  console.error("usage: node sign.cjs sign|verify ...");
  process.exit(2);
}
