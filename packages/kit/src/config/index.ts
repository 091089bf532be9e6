export { bool, int, loadConfig, oneOf, type Setting, str, url } from "./env.ts";
