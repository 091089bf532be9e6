#!/usr/bin/env node
// Thin launcher: the CLI is TypeScript, run by Node's own type stripping (Node >= 22.18).
import "../src/main.ts";
