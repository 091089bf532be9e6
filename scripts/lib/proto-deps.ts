// Writes .proto-deps/: the third-party .proto sources our contracts import.
// - google/api/{annotations,http}.proto, google/rpc/error_details.proto: copied from the google-proto-files package.
// - buf/validate/validate.proto: printed from the descriptor that
//   @bufbuild/protovalidate ships (the package has no .proto source).
import { copyFileSync, mkdirSync, rmSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { file_buf_validate_validate } from "@bufbuild/protovalidate/gen/buf/validate/validate_pb.js";
import { printProto } from "./print-proto.ts";

const require = createRequire(import.meta.url);

export function writeProtoDeps(root: string): string {
  const deps = join(root, ".proto-deps");
  rmSync(deps, { recursive: true, force: true });
  const googleApi = join(dirname(require.resolve("google-proto-files/package.json")), "google", "api");
  mkdirSync(join(deps, "google", "api"), { recursive: true });
  for (const f of ["annotations.proto", "http.proto"]) copyFileSync(join(googleApi, f), join(deps, "google", "api", f));
  const googleRpc = join(googleApi, "..", "rpc");
  mkdirSync(join(deps, "google", "rpc"), { recursive: true });
  copyFileSync(join(googleRpc, "error_details.proto"), join(deps, "google", "rpc", "error_details.proto"));
  mkdirSync(join(deps, "buf", "validate"), { recursive: true });
  writeFileSync(join(deps, "buf", "validate", "validate.proto"), printProto(file_buf_validate_validate.proto));
  return deps;
}
