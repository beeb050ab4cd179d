import { runDemo } from "./demo/run.ts";
console.log("OK", await runDemo({ print: (t) => console.log(t) }));
