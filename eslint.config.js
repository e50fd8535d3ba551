// ESLint for Parley's browser code (static/parley, plain ES modules with no build step) and
// its node unit tests (tests/js). `npm ci && npx eslint` (scripts/test.sh runs it).
import js from "@eslint/js";
import globals from "globals";

export default [
  {
    // Only our own JavaScript: never the Python venv's, the collected static files or
    // the test artifacts.
    ignores: [".venv/**", "node_modules/**", "var/**", "staticfiles/**", "artifacts/**"],
  },
  js.configs.recommended,
  {
    files: ["static/parley/**/*.js"],
    languageOptions: { ecmaVersion: 2022, sourceType: "module", globals: globals.browser },
  },
  {
    files: ["static/parley/pcm-worklet.js"],
    languageOptions: { globals: globals.audioWorklet },
  },
  {
    files: ["tests/js/**/*.js", "eslint.config.js"],
    languageOptions: { ecmaVersion: 2022, sourceType: "module", globals: globals.node },
  },
  {
    rules: {
      eqeqeq: ["error", "smart"],
      "no-var": "error",
      "prefer-const": "error",
    },
  },
];
