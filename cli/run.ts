// The bundled command's entry (scripts/build.ts): the installed loader has already checked the Node.js version and
// imports this module, so it runs the command unconditionally (no comparison of argv[1] with its own path, which a
// symlinked bin would fail).
import { main } from "./guardian.ts";

process.exitCode = await main(process.argv.slice(2));
