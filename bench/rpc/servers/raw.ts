// Contender (b): what the chassis rides on — a bare node:http keep-alive server
// that reads the body and answers fixed protobuf bytes.
import "./report-cpu.ts";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { responseBytes } from "../payload.ts";

const headers = ["content-type", "application/proto", "content-length", String(responseBytes.byteLength)];
const server = createServer((req, res) => {
  req.on("data", () => {});
  req.on("end", () => {
    res.writeHead(200, headers);
    res.end(responseBytes);
  });
});
server.keepAliveTimeout = 65_000;
server.listen(0, "127.0.0.1", () => {
  process.send?.({ url: `http://127.0.0.1:${(server.address() as AddressInfo).port}` });
});
process.on("SIGTERM", () => {
  server.closeAllConnections();
  server.close(() => process.exit(0));
});
