// Stand-in for `@azure/functions-core`, the module the Azure Functions Node.js worker supplies to the app (the
// bundles leave it external, as deployed). It records what @azure/functions registers so the benchmark driver can
// invoke a function the way the worker does: getInvocationModel → getArguments → invokeFunction → getResponse.
"use strict";
globalThis.__guardianBenchCore ??= { model: undefined, functions: [] };
const state = globalThis.__guardianBenchCore;
module.exports = {
  version: "bench-stub",
  setProgrammingModel(model) {
    state.model = model;
  },
  getProgrammingModel() {
    return state.model;
  },
  registerFunction(metadata, callback) {
    state.functions.push({ metadata, callback });
    return { dispose() {} };
  },
  registerHook() {
    return { dispose() {} };
  },
};
