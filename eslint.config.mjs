// ESLint for the JavaScript the package ships (`make lint` runs it; `npm ci` installs it from package-lock.json).
import js from "@eslint/js";
import globals from "globals";

export default [
  js.configs.recommended,
  {
    files: ["**/*.mjs", "**/*.js"],
    languageOptions: { ecmaVersion: 2022, sourceType: "module", globals: { ...globals.browser, ...globals.node } },
  },
  {
    // classic scripts: inspect's and the server's pages load them with <script>, not as modules
    files: ["charlstm/inspect/page.js", "charlstm/serve/page/page.js"],
    languageOptions: { sourceType: "script" },
  },
];
