export type * from './launch-spec.js'
export type * from './profile.js'
