import js from '@eslint/js'
import { defineConfig } from 'eslint/config'
import tseslint from 'typescript-eslint'

/**
 * Type-aware linting: the rules that find promises whose errors are lost (a floating promise, a
 * promise handed to a callback that ignores it) need the types, so every TypeScript file is linted
 * through the project's tsconfig.json.
 */
export default defineConfig(
  { ignores: ['dist/', 'node_modules/', 'data/', 'coverage/', 'scratch/', '.tmp/'] },
  js.configs.recommended,
  tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: {
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    rules: {
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/no-misused-promises': 'error',
      // `_name` marks a parameter a signature needs and the body does not use.
      '@typescript-eslint/no-unused-vars': [
        'error',
        {
          argsIgnorePattern: '^_',
          varsIgnorePattern: '^_',
          caughtErrors: 'none',
          ignoreRestSiblings: true,
        },
      ],
    },
  },
  {
    // Tests, the bench and the docs' examples read untyped JSON from the wire on purpose (answers,
    // frames, metrics): `any` there is what is being checked, not a hole in the types.
    files: ['test/**', 'bench/**', 'docs/**'],
    rules: {
      '@typescript-eslint/no-explicit-any': 'off',
      '@typescript-eslint/no-unsafe-assignment': 'off',
      '@typescript-eslint/no-unsafe-member-access': 'off',
      '@typescript-eslint/no-unsafe-argument': 'off',
      '@typescript-eslint/no-unsafe-return': 'off',
      '@typescript-eslint/no-unsafe-call': 'off',
      // expect(fake.method) and spies take methods unbound, as vitest means them to
      '@typescript-eslint/unbound-method': 'off',
      // fakes implement async ports without awaiting anything
      '@typescript-eslint/require-await': 'off',
      // ws hands a text frame over as a Buffer: `data.toString()` is its text
      '@typescript-eslint/no-base-to-string': 'off',
    },
  },
  {
    // Plain JavaScript (this file, test fixtures loaded as user modules) is outside the TypeScript project.
    files: ['**/*.js', '**/*.mjs', '**/*.cjs'],
    extends: [tseslint.configs.disableTypeChecked],
    rules: { 'no-undef': 'off' },
  },
)
