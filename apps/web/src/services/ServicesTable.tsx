import { errorMessage } from '../api/ApiError.js'
import { ServiceRow } from './ServiceRow.js'
import { useServices } from './useServices.js'

/** The services with their state, resource use and actions. */
export function ServicesTable() {
  const services = useServices()

  return (
    <section className="panel" aria-labelledby="services-heading">
      <div className="panel-header">
        <h2 id="services-heading">Services</h2>
        {services.isFetching ? <span className="muted">refreshing…</span> : null}
      </div>
      {services.isPending ? <p className="muted">Loading services…</p> : null}
      {services.isError ? (
        <p className="error" role="alert">
          Services unavailable: {errorMessage(services.error)}
        </p>
      ) : null}
      {services.data?.length === 0 ? <p className="muted">No services are configured.</p> : null}
      {services.data && services.data.length > 0 ? (
        <table className="services">
          <thead>
            <tr>
              <th scope="col">Name</th>
              <th scope="col">Profile</th>
              <th scope="col">State</th>
              <th scope="col">PID</th>
              <th scope="col">UID</th>
              <th scope="col">CPU</th>
              <th scope="col">Memory</th>
              <th scope="col">Actions</th>
            </tr>
          </thead>
          <tbody>
            {services.data.map((service) => (
              <ServiceRow key={service.name} service={service} />
            ))}
          </tbody>
        </table>
      ) : null}
    </section>
  )
}
