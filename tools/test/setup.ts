// Loaded before every test file: decorators of the registry need reflect-metadata first.
import 'reflect-metadata';
