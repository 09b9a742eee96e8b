// Generates TypeScript types, a query client and an execute client for each contract from its
// JSON schema. Run by schema/generate with NODE_PATH pointing at the cached node_modules.
const path = require("path");
const codegen = require("@cosmwasm/ts-codegen").default;

const root = path.resolve(__dirname, "..");
codegen({
  contracts: [
    { name: "TavdunToken", dir: path.join(root, "token") },
    { name: "TavdunMarket", dir: path.join(root, "market") },
  ],
  outPath: path.join(__dirname, "src"),
  options: {
    bundle: { enabled: false },
    types: { enabled: true },
    client: { enabled: true },
    reactQuery: { enabled: false },
    recoil: { enabled: false },
    messageComposer: { enabled: false },
  },
}).then(
  () => console.log("ts-codegen: schema/ts/src written"),
  (e) => {
    console.error(e);
    process.exit(1);
  },
);
