package apiv1

// The dashboard's TypeScript client is generated from this package.
//go:generate go run ./gen -src . -out ../../web/src/lib/api.gen.ts
