// The chassis's security building blocks: field encryption, service identity
// (mTLS), caller policies and end-user token checks.
export * from "./crypto/index.ts";
export * from "./jwt/index.ts";
export * from "./mtls/index.ts";
export * from "./policy/index.ts";
