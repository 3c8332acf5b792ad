// Lint rules: ESLint's recommended set plus typescript-eslint's type-aware strict set.
import eslint from '@eslint/js';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['dist/', 'node_modules/'] },
  eslint.configs.recommended,
  tseslint.configs.strictTypeChecked,
  {
    languageOptions: {
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    rules: {
      // Template literals with numbers are clear enough in log and error messages.
      '@typescript-eslint/restrict-template-expressions': ['error', { allowNumber: true }],
      // mongoose and winston type their option bags and transports as classes, so plain objects trip this rule.
      '@typescript-eslint/no-unsafe-class-instance-assignment': 'off',
    },
  },
  {
    files: ['eslint.config.js'],
    extends: [tseslint.configs.disableTypeChecked],
  },
);
