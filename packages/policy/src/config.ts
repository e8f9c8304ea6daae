// The typed form of a whole config file: profiles plus the services that use them.

import type { Profile } from './profile.js'

export type RestartPolicy = 'no' | 'on-failure' | 'always'

export interface ServiceDefinition {
  /** Key under `services`; also the hostname, cgroup name and part of the veth name. */
  name: string
  /** Name of a profile under `security_profiles`. */
  profile: string
  /** Absolute path, or a bare program name the supervisor looks up in PATH. */
  command: string
  args: string[]
  /** Absolute; defaults to the folder holding the config file. */
  workingDirectory: string
  /** Fixed values, applied after the profile's environment. */
  environment: Record<string, string>
  restart: RestartPolicy
  /** Writable paths of the profile that are bind-mounted from the host data folder. */
  persistentPaths: string[]
  autostart: boolean
}

export interface Config {
  profiles: Record<string, Profile>
  services: Record<string, ServiceDefinition>
  /** SHA-256 of the file's text, hex encoded. */
  sha256: string
}
