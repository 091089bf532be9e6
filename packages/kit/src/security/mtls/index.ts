export { type CertSource, certFiles, type FileCertSourceOptions, fileCertSource, inspectCredentials, type IssuingCertSourceOptions, issuingCertSource, writeCredentials } from "./cert-source.ts";
export { loadOrCreateCa } from "./ca-store.ts";
export { type LocalPki, type LocalPkiOptions, startLocalPki } from "./local-pki.ts";
export { type CaOptions, createPlatformCa, type IssueOptions, issueServiceCertificate, type PemPair, type ServiceCredentials } from "./issuer.ts";
export { MtlsTransport, type MtlsTransportOptions } from "./mtls-transport.ts";
export { isServiceName, serviceOfPeerCertificate, serviceOfSubjectAltName, spiffeIdOf, TRUST_DOMAIN } from "./spiffe.ts";
export { callerOfRequest, createMtlsServer, mtlsServerOptions } from "./tls-server.ts";
