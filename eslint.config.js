// Lint: floating promises are errors (they matter most in the executor), type-only imports, no import
// cycles, no file in src/ over 800 lines nor function over 150, and the engine never imports a concrete
// provider or store.
import tseslint from 'typescript-eslint';

// A checkout whose node_modules predates the plug-in still lints the rest (say so, and run npm ci);
// CI installs from the lock file, so there a missing plug-in is an error, not a skipped rule.
const importX = await import('eslint-plugin-import-x').catch((error) => {
  if (process.env.CI) throw error;
  console.warn('eslint-plugin-import-x is not installed (run npm ci): import cycles are not checked');
  return undefined;
});

export default tseslint.config(
  { ignores: ['node_modules/**', 'schema/**', '.drctl/**', 'dist/**'] },
  ...tseslint.configs.recommended,
  {
    files: ['**/*.ts'],
    languageOptions: { parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname } },
    rules: {
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/consistent-type-imports': 'error',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
    },
  },
  // A module never reaches itself through its imports (type-only imports aside: they vanish at run time).
  ...(importX === undefined
    ? []
    : [
        {
          files: ['src/**/*.ts', 'bench/**/*.ts', 'scripts/**/*.ts', 'test/**/*.ts'],
          plugins: { 'import-x': importX.default },
          settings: {
            'import-x/extensions': ['.ts', '.js'],
            'import-x/parsers': { '@typescript-eslint/parser': ['.ts'] },
          },
          rules: { 'import-x/no-cycle': 'error' },
        },
      ]),
  // Issue 26's size limits: a file or a function past them is doing more than one thing.
  {
    files: ['src/**/*.ts'],
    ignores: ['src/**/*.test.ts'],
    rules: {
      'max-lines': ['error', { max: 800 }],
      'max-lines-per-function': ['error', { max: 150 }],
    },
  },
  {
    files: ['src/engine/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            {
              group: ['**/providers/*/**', '**/store/*/**'],
              message: 'The engine talks to providers and stores through their interfaces only.',
            },
          ],
        },
      ],
    },
  },
);
