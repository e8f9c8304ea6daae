// Prisma CLI configuration. The datasource URL lives here because Prisma 7
// reads it from this file, not from schema.prisma, and loads no .env file.
// The server builds its own URL from --data at run time; this one serves
// the CLI (`prisma generate`, `prisma studio`) and defaults to ./data.
//
// The file imports nothing: the `prisma` package is a dependency of
// apps/api only, so `prisma/config` does not resolve from the repository
// root, and a plain object is all the CLI needs.

export default {
  schema: 'prisma/schema.prisma',
  migrations: { path: 'prisma/migrations' },
  datasource: {
    url: process.env.DATABASE_URL ?? 'file:./data/blackhole.db',
  },
}
