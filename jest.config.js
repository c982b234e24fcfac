/** Unit tests live beside the code (libs/**, apps/**), end-to-end tests in test/. */
module.exports = {
  moduleFileExtensions: ['js', 'json', 'ts'],
  rootDir: '.',
  roots: ['<rootDir>/apps/', '<rootDir>/libs/', '<rootDir>/test/'],
  testRegex: '.*\\.spec\\.ts$',
  transform: { '^.+\\.ts$': ['ts-jest', { tsconfig: 'tsconfig.json' }] },
  testEnvironment: 'node',
  moduleNameMapper: {
    '^@dqs/qs(|/.*)$': '<rootDir>/libs/qs/src$1',
    '^@dqs/grids(|/.*)$': '<rootDir>/libs/grids/src$1',
    '^@dqs/stats(|/.*)$': '<rootDir>/libs/stats/src$1',
    '^@dqs/store(|/.*)$': '<rootDir>/libs/store/src$1',
    '^@dqs/protocol(|/.*)$': '<rootDir>/libs/protocol/src$1',
    '^@dqs/halo(|/.*)$': '<rootDir>/libs/halo/src$1',
  },
  testTimeout: 120000,
  globalSetup: '<rootDir>/test/global-setup.js',
};
